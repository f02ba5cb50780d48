// Exact euro <-> cent conversion. No floating point anywhere: amounts are parsed from their
// decimal text and formatted with BigInt integer math, so `12.34` is 1234 cents and a balance of
// 99 999 999 999 998 766 cents prints every digit.

/** The outcome of parsing a euro amount typed by a user: cents, or a message saying what is wrong. */
export type ParsedAmount = { ok: true; cents: number } | { ok: false; error: string };

/** The largest transfer the form accepts is just under one million euro (the seed's form rule). */
export const MAX_TRANSFER_CENTS = 100_000_000 - 1;

const THOUSANDS = 'For thousands write 1.234,00 (or 1234)';

/**
 * Parses a non-negative euro amount as people type it, into BigInt cents, or says what is wrong:
 * `12.34`, `12,34`, `.5`, `12`, and with thousands separators as the page shows amounts,
 * `1.000,00` (Dutch) or `1,000.00`, also `€ 1.000,00`. With both marks the last one is the decimal
 * mark. A single mark followed by exactly 3 digits (`1.234`) is ambiguous and refused, as is a
 * sign, more than 2 decimals, badly grouped digits or anything else.
 */
export function parseEuros(text: string): { ok: true; cents: bigint } | { ok: false; error: string } {
  const t = text.trim().replace(/^€\s*/, '');
  const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });
  if (t === '') return fail('Enter an amount in euros, for example 12,34');
  if (/^[-\u2212]/.test(t)) return fail('The amount must be positive');
  if (!/^[\d.,]+$/.test(t) || !/\d/.test(t)) return fail('Not an amount: use digits, and a comma or dot for the cents');
  const lastDot = t.lastIndexOf('.');
  const lastComma = t.lastIndexOf(',');
  let whole = t;
  let frac = '';
  let grouping: string | null = null;
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? '.' : ',';
    grouping = decimal === '.' ? ',' : '.';
    const at = t.lastIndexOf(decimal);
    whole = t.slice(0, at);
    frac = t.slice(at + 1);
    if (whole.includes(decimal) || frac.includes(grouping)) return fail('Not an amount: use one decimal mark');
  } else {
    const mark = lastDot >= 0 ? '.' : lastComma >= 0 ? ',' : null;
    if (mark !== null) {
      const parts = t.split(mark);
      if (parts.length > 2) {
        grouping = mark; // 1.000.000: thousands only
      } else {
        whole = parts[0] ?? '';
        frac = parts[1] ?? '';
        if (frac.length === 3 && whole !== '' && whole !== '0') return fail(`At most 2 decimals (whole cents). ${THOUSANDS}`);
      }
    }
  }
  if (grouping !== null) {
    const grouped = new RegExp(`^\\d{1,3}(\\${grouping}\\d{3})*$`);
    if (!grouped.test(whole)) return fail(`Not an amount: thousands go in groups of 3 digits. ${THOUSANDS}`);
    whole = whole.split(grouping).join('');
  }
  if (frac.length > 2) return fail('At most 2 decimals (whole cents)');
  if (whole === '' && frac === '') return fail('Not an amount: use digits, and a comma or dot for the cents');
  return { ok: true, cents: BigInt(whole === '' ? '0' : whole) * 100n + BigInt(frac.padEnd(2, '0')) };
}

/** Parses a plain euro amount (see parseEuros) into BigInt cents; null when it is not one. */
export function eurosToCents(text: string): bigint | null {
  const r = parseEuros(text);
  return r.ok ? r.cents : null;
}

/**
 * Parses the amount field of the transfer form (see parseEuros); the result must satisfy
 * 0 < amount < 1 000 000 euro. The error text is meant for the user.
 */
export function parseTransferAmount(text: string): ParsedAmount {
  const r = parseEuros(text);
  if (!r.ok) return r;
  if (r.cents <= 0n) return { ok: false, error: 'The amount must be more than €0,00' };
  if (r.cents > BigInt(MAX_TRANSFER_CENTS)) return { ok: false, error: 'The amount must be less than €1.000.000,00' };
  return { ok: true, cents: Number(r.cents) };
}

/**
 * Parses an amount bound of the employee filters: the euros moved, without a sign (a debit of
 * €5,00 moved 5). Returns the cents, null for an empty field, or an error text. Bounded to the
 * GraphQL Int range, as the API's arguments are.
 */
export function parseFilterAmount(text: string): { ok: true; cents: number | null } | { ok: false; error: string } {
  if (text.trim() === '') return { ok: true, cents: null };
  const r = parseEuros(text);
  if (!r.ok) {
    if (/positive/.test(r.error)) return { ok: false, error: 'Without a sign: a debit of €5,00 moved 5 euros' };
    return r;
  }
  if (r.cents > 2147483647n) return { ok: false, error: 'At most €21.474.836,47' };
  return { ok: true, cents: Number(r.cents) };
}

/**
 * Formats cents as the server's euro string (nl_NL): `€` then the sign, `.` every 3 digits and
 * `,` before exactly 2 decimals, e.g. 123456 -> `€1.234,56`, -50000 -> `€-500,00`.
 * Accepts a BigInt or an integral number; throws a RangeError for a non-integral number.
 */
export function formatCents(cents: bigint | number): string {
  if (typeof cents === 'number' && !Number.isSafeInteger(cents)) {
    throw new RangeError(`formatCents needs a whole number of cents, got ${cents}`);
  }
  let c = BigInt(cents);
  const negative = c < 0n;
  if (negative) c = -c;
  const whole = (c / 100n).toString();
  const frac = (c % 100n).toString().padStart(2, '0');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `€${negative ? '-' : ''}${grouped},${frac}`;
}

/**
 * Parses a euro string produced by the server (`€1.234,56`, `€-500,00`) back into BigInt cents.
 * Returns null when the text is not in that exact shape.
 */
export function parseEuroString(text: string): bigint | null {
  const m = /^€(-?)(\d{1,3}(?:\.\d{3})*),(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const cents = BigInt((m[2] ?? '').replace(/\./g, '')) * 100n + BigInt(m[3] ?? '0');
  return m[1] === '-' ? -cents : cents;
}
