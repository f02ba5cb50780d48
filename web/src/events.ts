// Stored events as the History views show them (issue 15): the Avro record name as words, and the
// record itself as indented JSON. Pure: unit-tested in events.test.ts.

/** `MoneyDebitedEvent` -> `Money debited`; `AlertsSettingsUpdated` -> `Alerts settings updated`. */
export function eventLabel(type: string): string {
  const name = type.replace(/^.*\./, '').replace(/Event$/, '');
  const words = name.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g);
  if (!words || words.length === 0) return type;
  return words.map((w, i) => (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : /^[A-Z]+$/.test(w) && w.length > 1 ? w : w.toLowerCase())).join(' ');
}

/** The stored record indented for reading; the text as it is when it is not JSON. */
export function prettyData(data: string): string {
  try {
    return JSON.stringify(JSON.parse(data), null, 2);
  } catch {
    return data;
  }
}
