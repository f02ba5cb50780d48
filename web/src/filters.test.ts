import { describe, expect, it } from 'vitest';
import { amountMoved, fieldsNeeded, filterArguments, filtersFromParams, filtersToParams, hasFilters, matches, NO_FILTERS, signedChange } from './filters';
import type { Transaction } from './queries';

const debit: Transaction = { id: 1, direction: 'DEBIT', changed_by: '€1.234,56', descr: 'Rent March' };
const credit: Transaction = { id: 2, direction: 'CREDIT', changed_by: '€10,00', descr: 'deposit by re-graph' };
const smallDebit: Transaction = { id: 3, direction: 'DEBIT', changed_by: '€5,00', descr: 'ÉCLAIR au café' };

describe('filters', () => {
  it('passes everything when no filter is set', () => {
    expect(hasFilters(NO_FILTERS)).toBe(false);
    expect(matches(debit, NO_FILTERS)).toBe(true);
    expect(filterArguments(NO_FILTERS)).toEqual({});
    expect(fieldsNeeded(NO_FILTERS)).toEqual([]);
  });

  it('filters on direction', () => {
    const f = { ...NO_FILTERS, direction: 'DEBIT' as const };
    expect(matches(debit, f)).toBe(true);
    expect(matches(credit, f)).toBe(false);
    expect(filterArguments(f)).toEqual({ direction: 'DEBIT' });
  });

  it('compares the cents moved, debit or credit alike, bounds included (the API rule)', () => {
    expect(amountMoved(debit)).toBe(123456n);
    expect(amountMoved(credit)).toBe(1000n);
    expect(signedChange(debit)).toBe(-123456n);
    expect(signedChange(credit)).toBe(1000n);
    expect(matches(credit, { ...NO_FILTERS, minAmount: 1000 })).toBe(true);
    expect(matches(credit, { ...NO_FILTERS, minAmount: 1001 })).toBe(false);
    // A debit of €1.234,56 moved 123456 cents: it passes a minimum of €10, unlike a signed rule.
    expect(matches(debit, { ...NO_FILTERS, minAmount: 1000 })).toBe(true);
    expect(matches(smallDebit, { ...NO_FILTERS, minAmount: 1000 })).toBe(false);
    expect(matches(smallDebit, { ...NO_FILTERS, maxAmount: 500 })).toBe(true);
    expect(matches(debit, { ...NO_FILTERS, maxAmount: 500 })).toBe(false);
    expect(matches({ id: 4, direction: 'DEBIT', changed_by: '€-5,00' }, { ...NO_FILTERS, minAmount: 500, maxAmount: 500 })).toBe(true);
    expect(filterArguments({ ...NO_FILTERS, minAmount: 5, maxAmount: 7 })).toEqual({ min_amount: 5, max_amount: 7 });
    expect(fieldsNeeded({ ...NO_FILTERS, minAmount: 1 })).toEqual(['changed_by']);
    expect(matches({ id: 5 }, { ...NO_FILTERS, minAmount: 1 })).toBe(false);
  });

  it('matches descriptions ignoring case, accented letters included', () => {
    const f = { ...NO_FILTERS, descrIncludes: 'RENT' };
    expect(matches(debit, f)).toBe(true);
    expect(matches(credit, f)).toBe(false);
    expect(matches(smallDebit, { ...NO_FILTERS, descrIncludes: 'éclair' })).toBe(true);
    expect(matches(smallDebit, { ...NO_FILTERS, descrIncludes: 'CAFÉ' })).toBe(true);
    // The same letter written as e + combining accent.
    expect(matches(smallDebit, { ...NO_FILTERS, descrIncludes: 'cafe\u0301' })).toBe(true);
    expect(filterArguments(f)).toEqual({ descr_includes: 'RENT' });
    expect(fieldsNeeded(f)).toEqual(['descr']);
  });

  it('survive a round trip through the address', () => {
    const f = { direction: 'CREDIT' as const, minAmount: 1000, maxAmount: 50000, descrIncludes: 'huur & rent' };
    const p = new URLSearchParams('follow=NL66OPEN0000000000');
    filtersToParams(f, p);
    expect(p.get('follow')).toBe('NL66OPEN0000000000');
    expect(filtersFromParams(new URLSearchParams(p.toString()))).toEqual(f);
    expect(filtersFromParams(new URLSearchParams('direction=UP&min=-5&max=1e3&descr='))).toEqual(NO_FILTERS);
    filtersToParams(NO_FILTERS, p);
    expect(p.toString()).toBe('follow=NL66OPEN0000000000');
  });
});

describe('queries', () => {
  it('the stream is the seed operation plus `at transfer` without filters, and adds only the set filters', async () => {
    const { streamQuery, listQuery } = await import('./queries');
    expect(streamQuery(NO_FILTERS)).toBe(
      'subscription ($iban: String!, $show_iban: Boolean!, $show_new_balance: Boolean!, $show_direction: Boolean!, $show_from_to: Boolean!, $show_changed_by: Boolean!, $show_descr: Boolean!) { stream_transactions(iban: $iban) { iban @include(if: $show_iban) new_balance @include(if: $show_new_balance) direction @include(if: $show_direction) id from_to @include(if: $show_from_to) changed_by @include(if: $show_changed_by) descr @include(if: $show_descr) at transfer } }',
    );
    const q = streamQuery({ ...NO_FILTERS, direction: 'CREDIT', descrIncludes: 'x' });
    expect(q).toContain('($iban: String!, $direction: dtype, $descr_includes: String, $show_iban');
    expect(q).toContain('stream_transactions(iban: $iban, direction: $direction, descr_includes: $descr_includes)');
    expect(listQuery(NO_FILTERS)).toContain('transactions_by_iban(iban: $iban, max_items: $max_items) {');
    const l = listQuery({ ...NO_FILTERS, minAmount: 1, maxAmount: 2 });
    expect(l).toContain('($max_items: Int!, $iban: String!, $min_amount: Int, $max_amount: Int, $show_iban');
    expect(l).toContain('transactions_by_iban(iban: $iban, max_items: $max_items, min_amount: $min_amount, max_amount: $max_amount)');
  });
});
