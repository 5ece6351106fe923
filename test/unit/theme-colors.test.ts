/**
 * Map and Usage colours stay distinct in every kind of VS Code theme (#20): backing layers 1 and 2 were nearly the
 * same orange, and "refcount table" and "refcount block" shared one yellow. The theme values are VS Code 1.139's
 * (its colour registry and the default themes' overrides); distance is CIE76 ΔE in Lab.
 */
import * as assert from 'node:assert/strict';
import { BACKING_LAYER_COLORS, KIND_COLORS, USAGE_COLORS, backingLayerStyle } from '../../webview/kinds';

type ThemeKind = 'dark' | 'light' | 'hcDark' | 'hcLight';
const THEMES: Record<string, Record<ThemeKind, string>> = {
  'charts-blue': { dark: '#57A3F8', light: '#1A5CFF', hcDark: '#59a4f9', hcLight: '#0063d3' },
  'charts-green': { dark: '#86CF86', light: '#388A34', hcDark: '#89D185', hcLight: '#374e06' },
  'charts-purple': { dark: '#AD80D7', light: '#652D90', hcDark: '#B180D7', hcLight: '#652D90' },
  'charts-orange': { dark: '#CD861A', light: '#d18616', hcDark: '#d18616', hcLight: '#d18616' },
  'charts-red': { dark: '#EF8773', light: '#ad0707', hcDark: '#F48771', hcLight: '#B5200D' },
  'charts-yellow': { dark: '#E0B97F', light: '#667309', hcDark: '#FFD370', hcLight: '#895503' },
  'charts-foreground': { dark: '#CCCCCC', light: '#202020', hcDark: '#FFFFFF', hcLight: '#292929' },
  'terminal-ansiCyan': { dark: '#11a8cd', light: '#0598bc', hcDark: '#00cdcd', hcLight: '#0598bc' },
  'terminal-ansiMagenta': { dark: '#bc3fbc', light: '#bc05bc', hcDark: '#cd00cd', hcLight: '#bc05bc' },
  'terminal-ansiBrightGreen': { dark: '#23d18b', light: '#14CE14', hcDark: '#00ff00', hcLight: '#00bc00' },
  'terminal-ansiBrightYellow': { dark: '#f5f543', light: '#b5ba00', hcDark: '#ffff00', hcLight: '#b5ba00' },
  'terminal-ansiBrightMagenta': { dark: '#d670d6', light: '#d670d6', hcDark: '#ff00ff', hcLight: '#bc05bc' },
  'terminal-ansiBrightCyan': { dark: '#29b8db', light: '#29b8db', hcDark: '#00ffff', hcLight: '#0598bc' },
  'terminal-ansiBrightBlue': { dark: '#3b8eea', light: '#3b8eea', hcDark: '#5c5cff', hcLight: '#0451a5' },
  'terminal-ansiBrightRed': { dark: '#f14c4c', light: '#f14c4c', hcDark: '#ff0000', hcLight: '#cd3131' },
  disabledForeground: { dark: '#555555', light: '#616161', hcDark: '#A5A5A5', hcLight: '#7F7F7F' },
};

/** The colour a `var(--vscode-X, fallback)` value has in a theme kind. */
function resolve(css: string, theme: ThemeKind): string {
  const m = /^var\(--vscode-([A-Za-z-]+), (#[0-9a-fA-F]{6})\)$/.exec(css);
  assert.ok(m, `not a theme variable with a fallback: ${css}`);
  const known = THEMES[m[1]];
  assert.ok(known, `no theme values for ${m[1]}`);
  return known[theme];
}

function lab(hex: string): [number, number, number] {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const x = f((r * 0.4124 + g * 0.3576 + b * 0.1805) / 0.95047);
  const y = f(r * 0.2126 + g * 0.7152 + b * 0.0722);
  const z = f((r * 0.0193 + g * 0.1192 + b * 0.9505) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

export function deltaE(a: string, b: string): number {
  const [p, q] = [lab(a), lab(b)];
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

/** ΔE76 below ~25 reads as "the same colour, a bit off" on a small swatch; these must read as different colours. */
const MIN_DELTA_E = 25;

function assertDistinct(named: Array<[string, string]>, theme: ThemeKind): void {
  for (let i = 0; i < named.length; i++) {
    for (let j = i + 1; j < named.length; j++) {
      const d = deltaE(resolve(named[i][1], theme), resolve(named[j][1], theme));
      assert.ok(d >= MIN_DELTA_E, `${theme}: ${named[i][0]} and ${named[j][0]} are ΔE ${d.toFixed(1)} apart`);
    }
  }
}

describe('theme colours: map and usage stay distinct', () => {
  for (const theme of ['dark', 'light', 'hcDark', 'hcLight'] as ThemeKind[]) {
    it(`${theme}: every map kind and backing layers 1–4 have colours of their own`, () => {
      const named: Array<[string, string]> = [
        ['data', KIND_COLORS.data],
        ['zero', KIND_COLORS.zero],
        ['compressed', KIND_COLORS.compressed],
        ['unallocated', KIND_COLORS.unallocated],
        ...[1, 2, 3, 4].map((d) => [`backing layer ${d}`, backingLayerStyle(d).color] as [string, string]),
      ];
      assertDistinct(named, theme);
    });

    it(`${theme}: refcount table, refcount block and the other main usage categories differ`, () => {
      const main = ['header', 'L1 table', 'L2 table', 'refcount table', 'refcount block', 'data', 'compressed data', 'leaked', 'free'];
      assertDistinct(
        main.map((c) => [c, USAGE_COLORS[c]]),
        theme,
      );
    });
  }

  it('layer 5 and deeper reuse the hues, fainter', () => {
    assert.equal(BACKING_LAYER_COLORS.length, 4);
    assert.equal(backingLayerStyle(5).color, backingLayerStyle(1).color);
    assert.ok(backingLayerStyle(5).alpha < backingLayerStyle(1).alpha);
    assert.equal(backingLayerStyle(1).alpha, 1);
    assert.equal(backingLayerStyle(2).alpha, 1);
  });
});
