// The README shown on the extension's details page: the repository README without tables or lines that hold
// relative images (the screenshots live in the repository only; the package has no web address to serve them from),
// and with links to repository files turned into their plain names.
const RELATIVE_IMAGE = /!\[[^\]]*\]\((?!https?:)[^)]+\)/;
const RELATIVE_LINK = /(?<!!)\[[^\]]*\]\((?!https?:|#|mailto:)[^)]+\)/;
/** A link to a file of the repository (ARCHITECTURE.md, a source file) keeps its text, in code style, without the link. */
const unlinkRelative = (line) => line.replace(/(?<!!)\[([^\]]*)\]\((?!https?:|#|mailto:)[^)]+\)/g, (_, text) => (text.startsWith('`') ? text : `\`${text}\``));

export function packageReadme(markdown) {
  const lines = markdown.split('\n').map(unlinkRelative);
  const out = [];
  for (let i = 0; i < lines.length;) {
    if (lines[i].startsWith('|')) {
      let end = i;
      while (end < lines.length && lines[end].startsWith('|')) end++;
      const table = lines.slice(i, end);
      if (!table.some((l) => RELATIVE_IMAGE.test(l))) out.push(...table);
      i = end;
    } else {
      if (!RELATIVE_IMAGE.test(lines[i])) out.push(lines[i]);
      i++;
    }
  }
  const text = out.join('\n').replace(/\n{3,}/g, '\n\n');
  const left = out.find((l) => RELATIVE_IMAGE.test(l) || RELATIVE_LINK.test(l));
  if (left) throw new Error(`package README: a relative link or image would be broken on the details page: ${left.trim()}`);
  return text;
}
