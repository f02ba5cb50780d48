// Exact euro <-> cent conversion. No floating point anywhere: amounts are parsed from their
// decimal text and formatted with BigInt integer math, so `12.34` is 1234 cents and a balance of
// 99 999 999 999 998 766 cents prints every digit.

/** The outcome of parsing a euro amount typed by a user: cents, or a message saying what is wrong. */
export type ParsedAmount = { ok: true; cents: number } | { ok: false; error: string };

/** The largest transfer the form accepts is just under one million euro (the seed's form rule). */
export const MAX_TRANSFER_CENTS = 100_000_000 - 1;

const AMOUNT_RE = /^(\d*)(?:[.,](\d*))?$/;

/**
 * Parses a non-negative euro amount such as `12.34`, `12,34`, `0.5`, `.5` or `12` into a
 * BigInt of cents. Returns null for an empty string, a sign, more than 2 decimals, grouping
 * separators, exponents or anything else that is not a plain decimal amount.
 */
export function eurosToCents(text: string): bigint | null {
  const m = AMOUNT_RE.exec(text.trim());
  if (!m) return null;
  const whole = m[1] ?? '';
  const frac = m[2] ?? '';
  if (whole === '' && frac === '') return null;
  if (frac.length > 2) return null;
  return BigInt(whole === '' ? '0' : whole) * 100n + BigInt(frac.padEnd(2, '0') || '0');
}

/**
 * Parses the amount field of the transfer form. Accepts `.` or `,` as the decimal mark and at most
 * 2 decimals; the result must satisfy 0 < amount < 1 000 000 euro. The error text is meant for the user.
 */
export function parseTransferAmount(text: string): ParsedAmount {
  const t = text.trim();
  if (t === '') return { ok: false, error: 'Enter an amount in euros, for example 12.34' };
  if (t.startsWith('-')) return { ok: false, error: 'The amount must be positive' };
  const cents = eurosToCents(t);
  if (cents === null) {
    const m = /^\d*[.,](\d*)$/.exec(t);
    if (m && (m[1] ?? '').length > 2) return { ok: false, error: 'At most 2 decimals (whole cents)' };
    return { ok: false, error: 'Not an amount: use digits and at most one . or , for the cents' };
  }
  if (cents <= 0n) return { ok: false, error: 'The amount must be more than €0,00' };
  if (cents > BigInt(MAX_TRANSFER_CENTS)) return { ok: false, error: 'The amount must be less than €1.000.000,00' };
  return { ok: true, cents: Number(cents) };
}

/**
 * Parses a signed euro amount for a filter field (`-100`, `12,5`). Returns the signed cents as a
 * number, null for an empty field, or an error text. Bounded to the GraphQL Int range.
 */
export function parseSignedAmount(text: string): { ok: true; cents: number | null } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, cents: null };
  const negative = t.startsWith('-');
  const cents = eurosToCents(negative ? t.slice(1).trim() : t);
  if (cents === null) return { ok: false, error: 'Not an amount: digits, an optional minus and at most 2 decimals' };
  const signed = negative ? -cents : cents;
  if (signed > 2147483647n || signed < -2147483648n) return { ok: false, error: 'The amount is out of range' };
  return { ok: true, cents: Number(signed) };
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
