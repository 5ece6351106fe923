/**
 * The layers of QCOW2 Inspector, checked by `npm run lint:deps` (and a stage of `npm test`):
 *   src/qcow2     the engine: pure TypeScript, no vscode, knows nothing of its users;
 *   src/cli, src/extension and any other top-level part of src/ (src/guestfs, src/search, …): use the engine only
 *                 through its public entry, src/qcow2/index.ts;
 *   webview/      the browser side: imports only src/shared (the host–webview protocol), never the host or engine;
 *   and no import cycles anywhere, type-only imports included (tsPreCompilationDeps).
 * @type {import('dependency-cruiser').IConfiguration}
 */

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included: each is a sign of a missing owner.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-is-independent',
      severity: 'error',
      comment: 'The engine (src/qcow2) imports nothing from its users: not the extension, the CLI, the webview, nor vscode.',
      from: { path: '^src/qcow2/' },
      to: { path: ['^src/(?!qcow2/)[^/]+/', '^webview/', '^vscode$', '(^|/)node_modules/@types/vscode/'] },
    },
    {
      name: 'engine-through-its-entry',
      severity: 'error',
      comment: 'Other parts of src/ use the engine only through src/qcow2/index.ts; export what they need there.',
      from: { path: '^src/(?!qcow2/)[^/]+/' },
      to: { path: '^src/qcow2/', pathNot: '^src/qcow2/index\\.ts$' },
    },
    {
      name: 'webview-imports-only-shared',
      severity: 'error',
      comment: 'The webview runs in the browser: it may import src/shared (the protocol) and packages, nothing else of src/.',
      from: { path: '^webview/' },
      to: { path: '^src/(?!shared/)', pathNot: '^node_modules/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing (a typo, or a module not installed).',
      from: {},
      to: { couldNotResolve: true, pathNot: '^vscode$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|out|node_modules|\\.e2e|\\.fuzz|\\.tmp)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
