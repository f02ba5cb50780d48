// ISO 13616 IBAN checks for the transfer form, run as the user types: spaces and lower case are
// normalised away, the country's length and structure are checked, then the mod-97 check digits.
// The server checks again; this only catches typing mistakes before anything is sent.

/**
 * The SWIFT IBAN registry, as the server has it (src/domain/iban.c; a unit test checks that the two
 * agree): per country, the IBAN's length and the structure of what follows the check digits, as runs
 * of <count><kind> with kind n = digits, a = upper-case letters, c = letters or digits.
 */
export const IBAN_REGISTRY: Readonly<Record<string, readonly [number, string]>> = {
  AD: [24, '4n4n12c'], AE: [23, '3n16n'], AL: [28, '8n16c'], AT: [20, '5n11n'], AZ: [28, '4a20c'],
  BA: [20, '3n3n8n2n'], BE: [16, '3n7n2n'], BG: [22, '4a4n2n8c'], BH: [22, '4a14c'],
  BI: [27, '5n5n11n2n'], BR: [29, '8n5n10n1a1c'], BY: [28, '4c4n16c'], CH: [21, '5n12c'],
  CR: [22, '4n14n'], CY: [28, '3n5n16c'], CZ: [24, '4n6n10n'], DE: [22, '8n10n'],
  DJ: [27, '5n5n11n2n'], DK: [18, '4n9n1n'], DO: [28, '4c20n'], EE: [20, '2n14n'],
  EG: [29, '4n4n17n'], ES: [24, '4n4n1n1n10n'], FI: [18, '3n11n'], FK: [18, '2a12n'],
  FO: [18, '4n9n1n'], FR: [27, '5n5n11c2n'], GB: [22, '4a6n8n'], GE: [22, '2a16n'],
  GI: [23, '4a15c'], GL: [18, '4n9n1n'], GR: [27, '3n4n16c'], GT: [28, '4c20c'], HN: [28, '4a20n'],
  HR: [21, '7n10n'], HU: [28, '3n4n1n15n1n'], IE: [22, '4a6n8n'], IL: [23, '3n3n13n'],
  IQ: [23, '4a3n12n'], IS: [26, '4n2n6n10n'], IT: [27, '1a5n5n12c'], JO: [30, '4a4n18c'],
  KW: [30, '4a22c'], KZ: [20, '3n13c'], LB: [28, '4n20c'], LC: [32, '4a24c'], LI: [21, '5n12c'],
  LT: [20, '5n11n'], LU: [20, '3n13c'], LV: [21, '4a13c'], LY: [25, '3n3n15n'],
  MC: [27, '5n5n11c2n'], MD: [24, '2c18c'], ME: [22, '3n13n2n'], MK: [19, '3n10c2n'],
  MN: [20, '4n12n'], MR: [27, '5n5n11n2n'], MT: [31, '4a5n18c'], MU: [30, '4a2n2n12n3n3a'],
  NI: [28, '4a20n'], NL: [18, '4a10n'], NO: [15, '4n6n1n'], OM: [23, '3n16c'], PK: [24, '4a16c'],
  PL: [28, '8n16n'], PS: [29, '4a21c'], PT: [25, '4n4n11n2n'], QA: [29, '4a21c'],
  RO: [24, '4a16c'], RS: [22, '3n13n2n'], RU: [33, '9n5n15c'], SA: [24, '2n18c'],
  SC: [31, '4a2n2n16n3a'], SD: [18, '2n12n'], SE: [24, '3n16n1n'], SI: [19, '5n8n2n'],
  SK: [24, '4n6n10n'], SM: [27, '1a5n5n12c'], SO: [23, '4n3n12n'], ST: [25, '4n4n11n2n'],
  SV: [28, '4a20n'], TL: [23, '3n14n2n'], TN: [24, '2n3n13n2n'], TR: [26, '5n1n16c'],
  UA: [29, '6n19c'], VA: [22, '3n15n'], VG: [24, '4a16n'], XK: [20, '4n10n2n'],
  YE: [30, '4a4n18c'],
};

/** IBAN lengths per country. */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(IBAN_REGISTRY).map(([country, [length]]) => [country, length]),
);

type Kind = 'n' | 'a' | 'c';

/** The kind of each character after the check digits: '4a10n' gives aaaa then ten n. */
function bbanKinds(pattern: string): Kind[] {
  const kinds: Kind[] = [];
  for (const [, count, kind] of pattern.matchAll(/(\d+)([nac])/g)) {
    for (let i = 0; i < Number(count); i++) kinds.push(kind as Kind);
  }
  return kinds;
}

const KIND_WORDS: Record<Kind, [string, string]> = {
  n: ['digit', 'digits'],
  a: ['letter', 'letters'],
  c: ['letter or digit', 'letters or digits'],
};

/** "4 letters and 10 digits" for '4a10n', as the server says it (neighbouring runs merged). */
export function describeBban(pattern: string): string {
  const runs: [number, Kind][] = [];
  for (const kind of bbanKinds(pattern)) {
    const last = runs[runs.length - 1];
    if (last && last[1] === kind) last[0] += 1;
    else runs.push([1, kind]);
  }
  const parts = runs.map(([count, kind]) => `${count} ${KIND_WORDS[kind][count === 1 ? 0 : 1]}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : (parts[0] ?? '');
}

function fits(ch: string, kind: Kind): boolean {
  return kind === 'n' ? /[0-9]/.test(ch) : kind === 'a' ? /[A-Z]/.test(ch) : /[A-Z0-9]/.test(ch);
}

/**
 * What the checks say about a typed IBAN:
 * - `empty`: nothing typed yet;
 * - `incomplete`: fine so far, more characters are needed (`message` says how many);
 * - `invalid`: it cannot be a valid IBAN as typed (`message` says why);
 * - `valid`: the right length for its country and correct check digits.
 * `iban` is the normalised text (no spaces, upper case), the one to send.
 */
export interface IbanCheck {
  state: 'empty' | 'incomplete' | 'invalid' | 'valid';
  iban: string;
  message: string;
}

/** Removes spaces (and the non-breaking ones a copy may bring) and upper-cases. */
export function normaliseIban(text: string): string {
  return text.replace(/[\s\u00a0]+/g, '').toUpperCase();
}

/** Groups an IBAN in fours as it is printed: `NL61 OPEN 0305 7978 28`. */
export function formatIban(iban: string): string {
  return iban.replace(/(.{4})(?=.)/g, '$1 ');
}

/** The ISO 7064 mod-97 of an IBAN (country and check digits moved to the end, A=10 ... Z=35). */
export function ibanMod97(iban: string): number {
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rest = (value >= 10 ? rest * 100 + value : rest * 10 + value) % 97;
  }
  return rest;
}

/** Checks a typed IBAN (see IbanCheck). */
export function checkIban(text: string): IbanCheck {
  const iban = normaliseIban(text);
  const r = (state: IbanCheck['state'], message: string): IbanCheck => ({ state, iban, message });
  if (iban === '') return r('empty', '');
  const bad = /[^A-Z0-9]/.exec(iban);
  if (bad) return r('invalid', `An IBAN has only letters and digits, not "${bad[0]}"`);
  if (!/^[A-Z]{0,2}$/.test(iban.slice(0, 2))) return r('invalid', 'An IBAN starts with a two-letter country code, e.g. NL');
  if (iban.length < 2) return r('incomplete', 'Type the IBAN, e.g. NL61 OPEN 0305 7978 28');
  const country = iban.slice(0, 2);
  const entry = IBAN_REGISTRY[country];
  if (entry === undefined) return r('invalid', `${country} is not a country code that has IBANs`);
  const [length, bban] = entry;
  if (!/^\d{0,2}$/.test(iban.slice(2, 4))) return r('invalid', 'The 3rd and 4th characters of an IBAN are its check digits');
  // Each character after the check digits as soon as it is typed: a letter where the country has a
  // digit is a mistake whatever follows. It is named with its group of four as IBANs are printed,
  // which does not depend on where the person typed spaces.
  const kinds = bbanKinds(bban);
  for (let i = 4; i < Math.min(iban.length, length); i++) {
    const kind = kinds[i - 4] as Kind;
    if (!fits(iban[i] as string, kind)) {
      const group = iban.slice(i - (i % 4), i - (i % 4) + 4);
      return r('invalid', `"${iban[i]}" in ${group} should be a ${KIND_WORDS[kind][0]}: ${country} IBANs have ${describeBban(bban)} after the check digits`);
    }
  }
  if (iban.length < length) {
    const more = length - iban.length;
    return r('incomplete', `${country} IBANs have ${length} characters: ${more} more to type`);
  }
  if (iban.length > length) {
    return r('invalid', `${country} IBANs have ${length} characters, this has ${iban.length}`);
  }
  const check = Number(iban.slice(2, 4));
  if (check < 2 || check > 98 || ibanMod97(iban) !== 1) return r('invalid', 'The check digits do not match: a character is mistyped');
  return r('valid', `Valid IBAN: ${formatIban(iban)}`);
}
