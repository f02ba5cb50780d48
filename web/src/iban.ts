// ISO 13616 IBAN checks for the transfer form, run as the user types: spaces and lower case are
// normalised away, the country's length is checked, then the mod-97 check digits. The server checks
// again; this only catches typing mistakes before anything is sent.

/** IBAN lengths per country (the SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

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
  const length = IBAN_LENGTHS[country];
  if (length === undefined) return r('invalid', `${country} is not a country code that has IBANs`);
  if (!/^\d{0,2}$/.test(iban.slice(2, 4))) return r('invalid', 'The 3rd and 4th characters of an IBAN are its check digits');
  if (iban.length < length) {
    const more = length - iban.length;
    return r('incomplete', `${country} IBANs have ${length} characters: ${more} more to type`);
  }
  if (iban.length > length) {
    return r('invalid', `${country} IBANs have ${length} characters, this has ${iban.length}`);
  }
  if (ibanMod97(iban) !== 1) return r('invalid', 'The check digits do not match: a character is mistyped');
  return r('valid', `Valid IBAN: ${formatIban(iban)}`);
}
