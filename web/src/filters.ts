// The employee view's transaction filters, with the API's one meaning (graphql/bank.graphql): an
// amount bound compares the euro cents MOVED, whatever the direction (a debit of €100,00 and a
// credit of €100,00 both moved 10000), bounds included; the description filter matches text
// contained in the description, ignoring case (accented letters too). They go to the server as
// arguments of transactions_by_iban (so the list holds N matching transactions) and of
// stream_transactions (so only matching live ones arrive); `matches` applies the same rule here to
// every row before it is shown.
import { parseEuroString } from './money';
import type { FieldKey, Transaction } from './queries';

export interface Filters {
  direction: 'DEBIT' | 'CREDIT' | null;
  /** Cents moved, at least (debit or credit alike). */
  minAmount: number | null;
  /** Cents moved, at most. */
  maxAmount: number | null;
  /** Text the description contains, ignoring case. */
  descrIncludes: string | null;
}

export const NO_FILTERS: Filters = { direction: null, minAmount: null, maxAmount: null, descrIncludes: null };

/** True when at least one filter is set. */
export function hasFilters(f: Filters): boolean {
  return f.direction !== null || f.minAmount !== null || f.maxAmount !== null || (f.descrIncludes ?? '') !== '';
}

/** The fields a transaction must carry for `matches` to judge it. */
export function fieldsNeeded(f: Filters): FieldKey[] {
  const need: FieldKey[] = [];
  if (f.direction !== null) need.push('direction');
  if (f.minAmount !== null || f.maxAmount !== null) need.push('changed_by');
  if ((f.descrIncludes ?? '') !== '') need.push('descr');
  return need;
}

/** The filter arguments of transactions_by_iban and stream_transactions; unset filters are left out. */
export function filterArguments(f: Filters): Record<string, string | number> {
  const args: Record<string, string | number> = {};
  if (f.direction !== null) args.direction = f.direction;
  if (f.minAmount !== null) args.min_amount = f.minAmount;
  if (f.maxAmount !== null) args.max_amount = f.maxAmount;
  if ((f.descrIncludes ?? '') !== '') args.descr_includes = f.descrIncludes as string;
  return args;
}

/** The cents a transaction moved (never negative), or null if unknown. */
export function amountMoved(t: Transaction): bigint | null {
  if (!t.changed_by) return null;
  const c = parseEuroString(t.changed_by);
  if (c === null) return null;
  return c < 0n ? -c : c;
}

/** The change of a transaction in cents, negative for a debit, or null if unknown. */
export function signedChange(t: Transaction): bigint | null {
  const moved = amountMoved(t);
  if (moved === null) return null;
  if (t.direction === 'DEBIT') return -moved;
  if (t.direction === 'CREDIT') return moved;
  // Without the direction, the sign of the text (if the server sends one) is all there is.
  return parseEuroString(t.changed_by ?? '');
}

/** Lower case for comparing text ignoring case, accented letters included (É and é are one). */
export function foldCase(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

/** Whether a transaction passes every set filter (the API's rule, see the top of this file). */
export function matches(t: Transaction, f: Filters): boolean {
  if (f.direction !== null && t.direction !== f.direction) return false;
  if (f.minAmount !== null || f.maxAmount !== null) {
    const c = amountMoved(t);
    if (c === null) return false;
    if (f.minAmount !== null && c < BigInt(f.minAmount)) return false;
    if (f.maxAmount !== null && c > BigInt(f.maxAmount)) return false;
  }
  const needle = foldCase(f.descrIncludes ?? '');
  if (needle !== '' && !foldCase(t.descr ?? '').includes(needle)) return false;
  return true;
}

/** The filters as URL search parameters (amounts in cents), so a reload keeps them. */
export function filtersToParams(f: Filters, params: URLSearchParams): void {
  for (const k of ['direction', 'min', 'max', 'descr']) params.delete(k);
  if (f.direction) params.set('direction', f.direction);
  if (f.minAmount !== null) params.set('min', String(f.minAmount));
  if (f.maxAmount !== null) params.set('max', String(f.maxAmount));
  if (f.descrIncludes) params.set('descr', f.descrIncludes);
}

/** The filters read back from URL search parameters; anything malformed is left unset. */
export function filtersFromParams(params: URLSearchParams): Filters {
  const cents = (k: string): number | null => {
    const v = params.get(k);
    if (v === null || !/^\d{1,10}$/.test(v)) return null;
    const n = Number(v);
    return n <= 2147483647 ? n : null;
  };
  const d = params.get('direction');
  return {
    direction: d === 'DEBIT' || d === 'CREDIT' ? d : null,
    minAmount: cents('min'),
    maxAmount: cents('max'),
    descrIncludes: params.get('descr') || null,
  };
}
