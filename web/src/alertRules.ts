// Alert rules as the settings form edits them (issue 15): one row per rule, its kind and the text
// typed for the one value the kind needs, turned into the API's AlertRuleInput with a message for
// each mistake. Pure: unit-tested in alertRules.test.ts.
import { checkIban } from './iban';
import { formatCents, parseEuros } from './money';
import type { AlertKind, AlertRule } from './queries';

/** The server keeps at most this many rules per account (graphql/bank.graphql, set_alerts). */
export const MAX_RULES = 20;
/** The longest word a rule may look for, in bytes of UTF-8 (the description limit of the bank). */
export const WORD_MAX_BYTES = 256;

export interface RuleKind {
  kind: AlertKind;
  /** The choice in the form: "A debit above" … */
  label: string;
  /** Which value the kind needs. */
  field: 'amount' | 'iban' | 'word';
  /** The label of the value's input. */
  valueLabel: string;
  placeholder: string;
}

export const RULE_KINDS: readonly RuleKind[] = [
  { kind: 'DEBIT_ABOVE', label: 'A single debit above', field: 'amount', valueLabel: 'Amount in euros', placeholder: 'e.g. 500' },
  { kind: 'BALANCE_BELOW', label: 'The balance falls below', field: 'amount', valueLabel: 'Balance in euros', placeholder: 'e.g. 100 or -200' },
  { kind: 'CREDIT_FROM', label: 'A credit from the account', field: 'iban', valueLabel: 'IBAN', placeholder: 'e.g. NL61 OPEN 0305 7978 28' },
  { kind: 'DESCRIPTION_CONTAINS', label: 'A description containing', field: 'word', valueLabel: 'Word', placeholder: 'e.g. rent' },
];

export function kindOf(kind: AlertKind): RuleKind {
  return RULE_KINDS.find((k) => k.kind === kind) ?? (RULE_KINDS[0] as RuleKind);
}

/** A rule being edited: its kind and the value as typed. */
export interface RuleDraft {
  kind: AlertKind;
  value: string;
}

/** Cents as typed back into the form: `1.000,50`, `-200,00`. */
function centsText(cents: number): string {
  const t = formatCents(Math.trunc(cents));
  return t.replace('€', '');
}

/** The draft of a stored rule, to edit it. */
export function draftOf(rule: AlertRule): RuleDraft {
  const k = kindOf(rule.kind);
  if (k.field === 'amount') return { kind: rule.kind, value: rule.amount_cents == null ? '' : centsText(rule.amount_cents) };
  if (k.field === 'iban') return { kind: rule.kind, value: rule.iban ?? '' };
  return { kind: rule.kind, value: rule.word ?? '' };
}

/** The API's rule for a draft, or what is wrong with it (fit for the user). */
export function ruleOf(d: RuleDraft): { ok: true; rule: AlertRule } | { ok: false; error: string } {
  const k = kindOf(d.kind);
  const v = d.value.trim();
  if (k.field === 'amount') {
    // Only a balance can be negative (down to the overdraft limit); a debit is an amount moved.
    const negative = k.kind === 'BALANCE_BELOW' && /^[-\u2212]/.test(v);
    const r = parseEuros(negative ? v.slice(1) : v);
    if (!r.ok) return { ok: false, error: k.kind === 'DEBIT_ABOVE' && /positive/.test(r.error) ? 'A debit is an amount without a sign, e.g. 500' : r.error };
    if (r.cents > 100_000_000_000_000n) return { ok: false, error: 'That amount is too large' };
    return { ok: true, rule: { kind: k.kind, amount_cents: Number(negative ? -r.cents : r.cents) } };
  }
  if (k.field === 'iban') {
    const c = checkIban(v);
    if (c.state !== 'valid') return { ok: false, error: c.state === 'empty' ? 'Enter the IBAN the credit comes from' : c.message };
    return { ok: true, rule: { kind: k.kind, iban: c.iban } };
  }
  if (v === '') return { ok: false, error: 'Enter a word to look for in descriptions' };
  if (new TextEncoder().encode(v).length > WORD_MAX_BYTES) return { ok: false, error: `At most ${WORD_MAX_BYTES} bytes` };
  return { ok: true, rule: { kind: k.kind, word: v } };
}

/** A rule in a sentence: "A single debit above €500,00". */
export function describeRule(r: AlertRule): string {
  const k = kindOf(r.kind);
  if (k.field === 'amount') return `${k.label} ${r.amount_cents == null ? '?' : formatCents(Math.trunc(r.amount_cents))}`;
  if (k.field === 'iban') return `${k.label} ${r.iban ?? '?'}`;
  return `${k.label} "${r.word ?? ''}"`;
}
