import { describe, expect, it } from 'vitest';
import { describeRule, draftOf, ruleOf } from './alertRules';

describe('alert rules', () => {
  it('turns each kind of row into the API rule it means', () => {
    expect(ruleOf({ kind: 'DEBIT_ABOVE', value: '500' })).toEqual({ ok: true, rule: { kind: 'DEBIT_ABOVE', amount_cents: 50000 } });
    expect(ruleOf({ kind: 'DEBIT_ABOVE', value: '1.000,50' })).toEqual({ ok: true, rule: { kind: 'DEBIT_ABOVE', amount_cents: 100050 } });
    expect(ruleOf({ kind: 'BALANCE_BELOW', value: '-200' })).toEqual({ ok: true, rule: { kind: 'BALANCE_BELOW', amount_cents: -20000 } });
    expect(ruleOf({ kind: 'CREDIT_FROM', value: 'nl61 open 0305 7978 28' })).toEqual({ ok: true, rule: { kind: 'CREDIT_FROM', iban: 'NL61OPEN0305797828' } });
    expect(ruleOf({ kind: 'DESCRIPTION_CONTAINS', value: '  rent ' })).toEqual({ ok: true, rule: { kind: 'DESCRIPTION_CONTAINS', word: 'rent' } });
  });

  it('says what is wrong with a row', () => {
    expect(ruleOf({ kind: 'DEBIT_ABOVE', value: '-5' })).toEqual({ ok: false, error: 'A debit is an amount without a sign, e.g. 500' });
    expect(ruleOf({ kind: 'DEBIT_ABOVE', value: '' })).toMatchObject({ ok: false });
    expect(ruleOf({ kind: 'CREDIT_FROM', value: 'NL61OPEN0305797829' })).toEqual({ ok: false, error: 'The check digits do not match: a character is mistyped' });
    expect(ruleOf({ kind: 'CREDIT_FROM', value: '' })).toEqual({ ok: false, error: 'Enter the IBAN the credit comes from' });
    expect(ruleOf({ kind: 'DESCRIPTION_CONTAINS', value: ' ' })).toEqual({ ok: false, error: 'Enter a word to look for in descriptions' });
    expect(ruleOf({ kind: 'DESCRIPTION_CONTAINS', value: 'é'.repeat(129) })).toEqual({ ok: false, error: 'At most 256 bytes' });
  });

  it('puts a stored rule back in the form and in a sentence', () => {
    expect(draftOf({ kind: 'BALANCE_BELOW', amount_cents: -20000 })).toEqual({ kind: 'BALANCE_BELOW', value: '-200,00' });
    expect(draftOf({ kind: 'DEBIT_ABOVE', amount_cents: 123456 })).toEqual({ kind: 'DEBIT_ABOVE', value: '1.234,56' });
    expect(draftOf({ kind: 'CREDIT_FROM', iban: 'NL61OPEN0305797828' })).toEqual({ kind: 'CREDIT_FROM', value: 'NL61OPEN0305797828' });
    expect(ruleOf(draftOf({ kind: 'DEBIT_ABOVE', amount_cents: 123456 }))).toEqual({ ok: true, rule: { kind: 'DEBIT_ABOVE', amount_cents: 123456 } });
    expect(describeRule({ kind: 'DEBIT_ABOVE', amount_cents: 50000 })).toBe('A single debit above €500,00');
    expect(describeRule({ kind: 'BALANCE_BELOW', amount_cents: -20000 })).toBe('The balance falls below €-200,00');
    expect(describeRule({ kind: 'DESCRIPTION_CONTAINS', word: 'rent' })).toBe('A description containing "rent"');
  });
});
