/** The map's legend: the kinds, the backing layers, and each mark drawn over the cells (partitions, Find hits, extents). */
import { KIND_LABELS } from '../kinds';
import { formatBytes } from '../../src/shared/format';
import { h, setChildren } from '../dom';
import { t } from '../l10n';
import { kindColors, layerColor } from '../colors';

/** A mark drawn over cells: its colour, its label, and whether its swatch is a frame (outlined cells) or a fill. */
export interface LegendMark {
  color: string;
  label: string;
  frame?: boolean;
}

export function renderLegend(el: HTMLElement, layers: readonly string[], marks: readonly LegendMark[], bucketBytes: number): void {
  const col = kindColors();
  const item = (color: string, label: string, alpha = 1, frame = false): HTMLElement => {
    const sw = h('span', { class: frame ? 'swatch frame' : 'swatch' });
    if (frame) sw.style.borderColor = color;
    else sw.style.background = color;
    sw.style.opacity = String(alpha);
    return h('span', { class: 'legend-item' }, sw, label);
  };
  const items = [item(col.data, t(KIND_LABELS.data)), item(col.zero, t(KIND_LABELS.zero)), item(col.compressed, t(KIND_LABELS.compressed))];
  layers.slice(1).forEach((file, i) => {
    const name = file.split('/').pop() ?? file;
    const st = layerColor(i + 1);
    items.push(item(st.color, t('backing layer {0}: {1}', i + 1, name), st.alpha));
  });
  items.push(item(col.unallocated, t(KIND_LABELS.unallocated), 0.35));
  for (const m of marks) items.push(item(m.color, m.label, 1, m.frame));
  setChildren(el, ...items, h('span', { class: 'legend-item muted' }, t('Bucket size: {0}', formatBytes(bucketBytes))));
}
