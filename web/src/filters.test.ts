import { describe, expect, it } from 'vitest';
import { fieldsNeeded, hasFilters, matches, NO_FILTERS, signedChange, streamArguments } from './filters';
import type { Transaction } from './queries';

const debit: Transaction = { id: 1, direction: 'DEBIT', changed_by: '€1.234,56', descr: 'Rent March' };
const credit: Transaction = { id: 2, direction: 'CREDIT', changed_by: '€10,00', descr: 'deposit by re-graph' };

describe('filters', () => {
  it('passes everything when no filter is set', () => {
    expect(hasFilters(NO_FILTERS)).toBe(false);
    expect(matches(debit, NO_FILTERS)).toBe(true);
    expect(streamArguments(NO_FILTERS)).toEqual({});
    expect(fieldsNeeded(NO_FILTERS)).toEqual([]);
  });

  it('filters on direction', () => {
    const f = { ...NO_FILTERS, direction: 'DEBIT' as const };
    expect(matches(debit, f)).toBe(true);
    expect(matches(credit, f)).toBe(false);
    expect(streamArguments(f)).toEqual({ direction: 'DEBIT' });
  });

  it('compares amounts as signed cents, inclusive', () => {
    expect(signedChange(debit)).toBe(-123456n);
    expect(signedChange(credit)).toBe(1000n);
    expect(matches(credit, { ...NO_FILTERS, minAmount: 1000 })).toBe(true);
    expect(matches(credit, { ...NO_FILTERS, minAmount: 1001 })).toBe(false);
    expect(matches(debit, { ...NO_FILTERS, minAmount: 1 })).toBe(false);
    expect(matches(debit, { ...NO_FILTERS, maxAmount: -100000 })).toBe(true);
    expect(matches(credit, { ...NO_FILTERS, maxAmount: 999 })).toBe(false);
    expect(streamArguments({ ...NO_FILTERS, minAmount: -5, maxAmount: 7 })).toEqual({ min_amount: -5, max_amount: 7 });
    expect(fieldsNeeded({ ...NO_FILTERS, minAmount: 1 })).toEqual(['direction', 'changed_by']);
  });

  it('matches descriptions case-insensitively', () => {
    const f = { ...NO_FILTERS, descrIncludes: 'RENT' };
    expect(matches(debit, f)).toBe(true);
    expect(matches(credit, f)).toBe(false);
    expect(streamArguments(f)).toEqual({ descr_includes: 'RENT' });
    expect(fieldsNeeded(f)).toEqual(['descr']);
  });
});

describe('streamQuery', () => {
  it('is the seed operation without filters, and adds only the set filters', async () => {
    const { streamQuery } = await import('./queries');
    expect(streamQuery(NO_FILTERS)).toBe(
      'subscription ($iban: String!, $show_iban: Boolean!, $show_new_balance: Boolean!, $show_direction: Boolean!, $show_from_to: Boolean!, $show_changed_by: Boolean!, $show_descr: Boolean!) { stream_transactions(iban: $iban) { iban @include(if: $show_iban) new_balance @include(if: $show_new_balance) direction @include(if: $show_direction) id from_to @include(if: $show_from_to) changed_by @include(if: $show_changed_by) descr @include(if: $show_descr) } }',
    );
    const q = streamQuery({ ...NO_FILTERS, direction: 'CREDIT', descrIncludes: 'x' });
    expect(q).toContain('($iban: String!, $direction: dtype, $descr_includes: String, $show_iban');
    expect(q).toContain('stream_transactions(iban: $iban, direction: $direction, descr_includes: $descr_includes)');
  });
});
