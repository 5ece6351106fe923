/**
 * Legend of guest-range kinds shared by the map (H4) and the hex view (H6): one label and one theme colour
 * per kind, so both views colour the same bytes the same way. Colours are CSS values (VS Code theme
 * variables with fallbacks) usable in style attributes and, resolved with getComputedStyle, on a canvas.
 */

/** Where a guest byte comes from. 'backing' means data, zero or compressed found in a backing layer. */
export type SourceKind = 'data' | 'zero' | 'compressed' | 'backing' | 'unallocated';

export const SOURCE_KINDS: readonly SourceKind[] = ['data', 'zero', 'compressed', 'backing', 'unallocated'];

export const KIND_LABELS: Record<SourceKind, string> = {
  data: 'data',
  zero: 'zero',
  compressed: 'compressed',
  backing: 'from backing file',
  unallocated: 'unallocated',
};

export const KIND_COLORS: Record<SourceKind, string> = {
  data: 'var(--vscode-charts-blue, #3794ff)',
  zero: 'var(--vscode-charts-green, #89d185)',
  compressed: 'var(--vscode-charts-purple, #b180d7)',
  backing: 'var(--vscode-charts-orange, #d18616)',
  unallocated: 'var(--vscode-disabledForeground, #888888)',
};

/**
 * Colours of backing layers 1, 2, 3, 4 (then again, fainter). One hue per layer, not one orange fading with depth:
 * layers 1 and 2 were nearly the same orange (#20). Picked to stay apart from the kind colours and from each other
 * in VS Code's dark, light and both high-contrast themes (test/unit/theme-colors.test.ts checks the distances).
 */
export const BACKING_LAYER_COLORS: readonly string[] = [
  KIND_COLORS.backing,
  'var(--vscode-terminal-ansiCyan, #11a8cd)',
  'var(--vscode-charts-red, #f14c4c)',
  'var(--vscode-terminal-ansiMagenta, #bc3fbc)',
];

/** Colour and opacity of backing layer `depth` (>= 1): its own hue, fainter only once the hues are used up. */
export function backingLayerStyle(depth: number): { color: string; alpha: number } {
  const i = Math.max(0, depth - 1);
  const n = BACKING_LAYER_COLORS.length;
  return { color: BACKING_LAYER_COLORS[i % n], alpha: Math.max(0.4, 1 - 0.3 * Math.floor(i / n)) };
}

/**
 * Colours of the Usage tab's host-file categories (labels as the engine names them). Guest data looks as on the
 * map; every metadata structure has a hue of its own (refcount table and refcount block were one yellow, #20).
 */
export const USAGE_COLORS: Readonly<Record<string, string>> = {
  header: 'var(--vscode-charts-foreground, #cccccc)',
  'L1 table': 'var(--vscode-charts-green, #89d185)',
  'L2 table': 'var(--vscode-charts-orange, #d18616)',
  'refcount table': 'var(--vscode-charts-yellow, #cca700)',
  'refcount block': 'var(--vscode-terminal-ansiCyan, #11a8cd)',
  data: KIND_COLORS.data,
  'compressed data': KIND_COLORS.compressed,
  'snapshot table': 'var(--vscode-terminal-ansiMagenta, #bc3fbc)',
  'snapshot L1 table': 'var(--vscode-terminal-ansiBrightGreen, #23d18b)',
  'snapshot L2 table': 'var(--vscode-terminal-ansiBrightYellow, #f5f543)',
  'bitmap directory': 'var(--vscode-terminal-ansiBrightMagenta, #d670d6)',
  'bitmap table': 'var(--vscode-terminal-ansiBrightCyan, #29b8db)',
  'bitmap data': 'var(--vscode-terminal-ansiBrightBlue, #3b8eea)',
  'encryption header': 'var(--vscode-terminal-ansiBrightRed, #f14c4c)',
  leaked: 'var(--vscode-charts-red, #f14c4c)',
  free: 'var(--vscode-disabledForeground, #888888)',
};

/** The Usage colour of a category label; unknown labels get the chart foreground. */
export function usageColor(category: string): string {
  return USAGE_COLORS[category] ?? USAGE_COLORS[category.toLowerCase()] ?? 'var(--vscode-charts-foreground, #cccccc)';
}

/** The legend kind of a run: its own kind in the top image, 'backing' when a lower layer answers with data. */
export function sourceKind(kind: 'data' | 'zero' | 'compressed' | 'unallocated', depth: number): SourceKind {
  return depth > 0 && kind !== 'unallocated' ? 'backing' : kind;
}
