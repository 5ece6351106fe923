/** A search pattern the user typed cannot be used; the message is one line saying why. */
export class PatternError extends Error {}
