/** Resolves the shared kind legend (CSS theme variables) to canvas colours, and shades backing layers by depth. */
import { BACKING_LAYER_COLORS, KIND_COLORS, SOURCE_KINDS, backingLayerStyle, type SourceKind } from './kinds';
import { MAP_KIND_CODES } from '../src/shared/protocol';

let resolved: Record<SourceKind, string> | undefined;
let resolvedLayers: string[] | undefined;

export function kindColors(): Record<SourceKind, string> {
  if (resolved) return resolved;
  const probe = document.createElement('span');
  document.body.appendChild(probe);
  const out = {} as Record<SourceKind, string>;
  for (const k of SOURCE_KINDS) {
    probe.style.color = KIND_COLORS[k];
    out[k] = getComputedStyle(probe).color || '#888';
  }
  resolvedLayers = BACKING_LAYER_COLORS.map((css) => {
    probe.style.color = css;
    return getComputedStyle(probe).color || '#888';
  });
  probe.remove();
  resolved = out;
  return out;
}

/** Canvas colour and opacity of backing layer `depth` (>= 1). */
export function layerColor(depth: number): { color: string; alpha: number } {
  kindColors();
  const st = backingLayerStyle(depth);
  return { color: resolvedLayers![BACKING_LAYER_COLORS.indexOf(st.color)], alpha: st.alpha };
}

/** Forget resolved colours (the theme changed). */
export function resetColors(): void {
  resolved = undefined;
  resolvedLayers = undefined;
}

/** Colour and opacity of a map bucket: its own kind in the top image, one hue per backing layer below. */
export function bucketStyle(kindCode: number, depth: number): { color: string; alpha: number; kind: SourceKind } {
  const c = kindColors();
  const kind = MAP_KIND_CODES[kindCode] ?? 'unallocated';
  if (kind === 'unallocated') return { color: c.unallocated, alpha: 0.35, kind: 'unallocated' };
  if (depth === 0) return { color: c[kind], alpha: 1, kind };
  return { ...layerColor(depth), kind: 'backing' };
}

const themeListeners: (() => void)[] = [];
/** Runs `f` after the theme changed (VS Code sets the body's class), with colours resolved afresh. */
export function onThemeChange(f: () => void): void {
  themeListeners.push(f);
}

new MutationObserver(() => {
  resetColors();
  for (const f of themeListeners) f();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });
