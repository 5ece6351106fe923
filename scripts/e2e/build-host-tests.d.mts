export declare const hostTestsOut: string;
export declare const hostTestsIndex: string;
export declare function buildHostTests(): Promise<string>;
