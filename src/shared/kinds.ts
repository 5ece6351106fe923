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

/** The legend kind of a run: its own kind in the top image, 'backing' when a lower layer answers with data. */
export function sourceKind(kind: 'data' | 'zero' | 'compressed' | 'unallocated', depth: number): SourceKind {
  return depth > 0 && kind !== 'unallocated' ? 'backing' : kind;
}
