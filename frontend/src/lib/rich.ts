// Catalog texts with a little emphasis: **bold** and `code`, so translators keep
// the marked words in their own word order and no HTML goes through {@html}.

export interface RichPart {
  kind: 'text' | 'strong' | 'code';
  text: string;
}

/** "Run a **server** (`serve`)" → text, strong, text, code, text. Unmatched markers stay as text. */
export function richParts(s: string): RichPart[] {
  const parts: RichPart[] = [];
  const re = /\*\*(.+?)\*\*|`([^`]+)`/g;
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > at) parts.push({ kind: 'text', text: s.slice(at, m.index) });
    parts.push(m[1] !== undefined ? { kind: 'strong', text: m[1] } : { kind: 'code', text: m[2] });
    at = m.index + m[0].length;
  }
  if (at < s.length) parts.push({ kind: 'text', text: s.slice(at) });
  return parts;
}
