import { useEffect, useState } from 'preact/hooks';
import { update } from '../store';
import { formatTime, parseLocalInput, toLocalInput } from '../time';
import { Icon } from './common';

/**
 * The "as of" control of the client's and the employee's transactions (issue 15): a date and time
 * in the reader's time zone; showing it asks the bank for the account as it was then (computed from
 * its events), and emptying it or "Back to live" shows the live view again. The instant is kept in
 * the address (`?at=2026-12-04T09:30:00.000Z`), so a reload or a shared link shows the same moment.
 */
export function AsOf({ asOf, what }: { asOf: string | null; what: string }) {
  const [value, setValue] = useState(toLocalInput(asOf));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setValue(toLocalInput(asOf));
    setError(null);
  }, [asOf]);
  const apply = (text: string): void => {
    const r = parseLocalInput(text);
    if (!r.ok) {
      setError(r.error);
      return;
    }
    setError(null);
    update({ asOf: r.iso });
  };
  const live = (): void => {
    setValue('');
    setError(null);
    update({ asOf: null });
  };
  return (
    <form
      id="as-of-form"
      class={`as-of ${asOf ? 'box is-past' : 'is-live'}`}
      onSubmit={(e) => {
        e.preventDefault();
        apply(value);
      }}
    >
      <div class="as-of-row">
        <label class="label is-small mb-0" for="as-of">
          <Icon name="history" size={18} /> As of
        </label>
        <input
          id="as-of"
          class={`input is-small ${error ? 'is-danger' : ''}`}
          type="datetime-local"
          step={1}
          value={value}
          aria-describedby="as-of-help"
          aria-invalid={error !== null}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setValue(v);
            // Emptying the control is leaving the past.
            if (v === '' && asOf) live();
          }}
        />
        <button id="as-of-apply" type="submit" class="button is-info is-small">
          Show
        </button>
        {asOf && (
          <button id="as-of-live" type="button" class="button is-primary is-small" onClick={live}>
            Back to live
          </button>
        )}
      </div>
      <p id="as-of-help" class={`help ${error ? 'is-danger' : ''}`} role={error ? 'alert' : undefined}>
        {error ??
          (asOf ? (
            <>
              {`Showing ${what} as it was at `}
              <time id="as-of-time" dateTime={asOf}>
                {formatTime(asOf) ?? asOf}
              </time>
              {' (your time zone). New transactions do not show here until you go back to live.'}
            </>
          ) : (
            `Live now. Pick a past moment to see ${what} as it was then.`
          ))}
      </p>
    </form>
  );
}
