import { describe, expect, it } from 'vitest';
import { eurosToCents, formatCents, parseEuroString, parseFilterAmount, parseTransferAmount } from './money';

function cents(text: string): number {
  const r = parseTransferAmount(text);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(text)} to parse, got: ${r.error}`);
  return r.cents;
}

function error(text: string): string {
  const r = parseTransferAmount(text);
  if (r.ok) throw new Error(`expected ${JSON.stringify(text)} to be rejected, got ${r.cents} cents`);
  return r.error;
}

describe('parseTransferAmount', () => {
  it('converts euros to exact cents without float rounding', () => {
    expect(cents('12.34')).toBe(1234);
    expect(cents('0.29')).toBe(29); // the seed's float truncation gave 28
    expect(cents('0.57')).toBe(57); // 0.57 * 100 = 56.99999999999999 as a double
    expect(cents('1.15')).toBe(115);
    expect(cents('4.35')).toBe(435);
    expect(cents('10')).toBe(1000);
    expect(cents('10.5')).toBe(1050);
    expect(cents('0.01')).toBe(1);
    expect(cents('007.10')).toBe(710);
  });

  it('accepts a comma as the decimal mark, a bare fraction and surrounding spaces', () => {
    expect(cents('1,5')).toBe(150);
    expect(cents('12,34')).toBe(1234);
    expect(cents(',5')).toBe(50);
    expect(cents('.05')).toBe(5);
    expect(cents('  3.20 ')).toBe(320);
    expect(cents('7.')).toBe(700);
  });

  it('enforces 0 < amount < 1 000 000 euro', () => {
    expect(cents('999999.99')).toBe(99_999_999);
    expect(error('1000000')).toMatch(/less than €1\.000\.000,00/);
    expect(error('1000000.00')).toMatch(/less than/);
    expect(error('0')).toMatch(/more than €0,00/);
    expect(error('0.00')).toMatch(/more than/);
    expect(error('99999999999999999999')).toMatch(/less than/);
  });

  it('accepts Dutch thousands separators as the page shows amounts, and the English ones', () => {
    expect(cents('1.000,00')).toBe(100000);
    expect(cents('1.000,5')).toBe(100050);
    expect(cents('12.345,67')).toBe(1234567);
    expect(cents('999.999,99')).toBe(99_999_999);
    expect(cents('€1.234,56')).toBe(123456);
    expect(cents('€ 12,34')).toBe(1234);
    expect(cents('1,000.00')).toBe(100000);
    expect(error('1.000.000')).toMatch(/less than €1\.000\.000,00/);
    expect(error('1.000.000,00')).toMatch(/less than/);
  });

  it('refuses an ambiguous 1.234 or 1,234 and says how to write thousands', () => {
    expect(error('1.234')).toMatch(/At most 2 decimals.*1\.234,00/);
    expect(error('1,234')).toMatch(/At most 2 decimals.*1\.234,00/);
    expect(error('0.001')).toMatch(/At most 2 decimals/);
    expect(error('1.000,001')).toMatch(/At most 2 decimals/);
  });

  it('rejects negatives, bad grouping and garbage', () => {
    expect(error('-5')).toMatch(/positive/);
    expect(error('')).toMatch(/Enter an amount/);
    expect(error('   ')).toMatch(/Enter an amount/);
    expect(error('1.2.3')).toMatch(/groups of 3/);
    expect(error('12.34.567')).toMatch(/groups of 3/);
    expect(error('1.00,00')).toMatch(/groups of 3/);
    expect(error('1,000,00.00')).toMatch(/groups of 3/);
    expect(error('1.000,000.00')).toMatch(/one decimal mark/);
    for (const bad of ['abc', '1e3', '+5', '5 euro', '0x10', '.', ',', 'NaN', 'Infinity', '1 000', '€']) {
      expect(error(bad), bad).toMatch(/Not an amount|Enter an amount/);
    }
  });
});

describe('eurosToCents', () => {
  it('parses big amounts exactly', () => {
    expect(eurosToCents('1000000000000000.00')).toBe(100000000000000000n);
    expect(eurosToCents('999999999999999987.66')).toBe(99999999999999998766n);
    expect(eurosToCents('')).toBeNull();
  });
});

describe('parseFilterAmount', () => {
  it('parses the amount moved, without a sign, in the GraphQL Int range', () => {
    expect(parseFilterAmount('')).toEqual({ ok: true, cents: null });
    expect(parseFilterAmount('100')).toEqual({ ok: true, cents: 10000 });
    expect(parseFilterAmount('12,5')).toEqual({ ok: true, cents: 1250 });
    expect(parseFilterAmount('1.000,00')).toEqual({ ok: true, cents: 100000 });
    expect(parseFilterAmount('0')).toEqual({ ok: true, cents: 0 });
    expect(parseFilterAmount('21474836.47')).toEqual({ ok: true, cents: 2147483647 });
    expect(parseFilterAmount('21474836.48').ok).toBe(false);
    const neg = parseFilterAmount('-5');
    expect(neg.ok).toBe(false);
    if (!neg.ok) expect(neg.error).toMatch(/Without a sign/);
    expect(parseFilterAmount('1.234').ok).toBe(false);
  });
});

describe('formatCents', () => {
  it('formats like the server (nl_NL, sign after the symbol)', () => {
    expect(formatCents(0)).toBe('€0,00');
    expect(formatCents(5)).toBe('€0,05');
    expect(formatCents(1000)).toBe('€10,00');
    expect(formatCents(123456)).toBe('€1.234,56');
    expect(formatCents(-50000)).toBe('€-500,00');
    expect(formatCents(-1)).toBe('€-0,01');
    expect(formatCents(100000)).toBe('€1.000,00');
    expect(formatCents(99999)).toBe('€999,99');
  });

  it('is exact beyond 2^53 cents when given a BigInt', () => {
    expect(formatCents(100000000000000000n)).toBe('€1.000.000.000.000.000,00');
    expect(formatCents(99999999999999998766n)).toBe('€999.999.999.999.999.987,66');
    expect(formatCents(-9007199254740993n)).toBe('€-90.071.992.547.409,93');
  });

  it('refuses a non-integral number instead of rounding it', () => {
    expect(() => formatCents(12.5)).toThrow(RangeError);
    expect(() => formatCents(Number.NaN)).toThrow(RangeError);
    expect(() => formatCents(2 ** 60)).toThrow(RangeError);
  });

  it('can be typed back into the transfer form as shown', () => {
    for (const c of [1, 5, 99, 1234, 100000, 123456, 99_999_999]) {
      expect(parseTransferAmount(formatCents(c))).toEqual({ ok: true, cents: c });
    }
  });

  it('round-trips through parseEuroString', () => {
    for (const c of [0n, 5n, -50000n, 123456n, 100000000000000000n, -99999999999999998766n]) {
      expect(parseEuroString(formatCents(c))).toBe(c);
    }
    expect(parseEuroString('€1.234,5')).toBeNull();
    expect(parseEuroString('€1234,56')).toBeNull();
    expect(parseEuroString('1.234,56')).toBeNull();
  });
});
