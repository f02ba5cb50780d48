import { FIELDS, type ShowFields } from '../queries';
import { getState, MAX_ITEMS_CHOICES, update } from '../store';
import { Icon } from './common';

/** The max-items buttons and the six field toggles of the right column (spec 7.3). */
export function Settings({ maxItems, show }: { maxItems: number; show: ShowFields }) {
  return (
    <>
      <div class="content">
        <p id="max-items-label">Select the number of transactions to show.</p>
        <div class="buttons" role="group" aria-labelledby="max-items-label">
          {MAX_ITEMS_CHOICES.map((n) =>
            n === maxItems ? (
              <button key={n} type="button" id={`max-items-${n}`} class="button is-success is-active" aria-pressed="true" aria-disabled="true">
                {n}
              </button>
            ) : (
              <button key={n} type="button" id={`max-items-${n}`} class="button is-info" aria-pressed="false" onClick={() => update({ maxItems: n })}>
                {n}
              </button>
            ),
          )}
        </div>
      </div>
      <div class="content">
        <p id="show-label">Select which information to show.</p>
        <div class="buttons" role="group" aria-labelledby="show-label">
          {FIELDS.map((f) => {
            const on = show[f.key];
            return (
              <button
                key={f.key}
                type="button"
                id={`show-argument-${f.label}`}
                class={`button ${on ? 'is-success' : 'is-info'}`}
                aria-pressed={on}
                onClick={() => update({ show: { ...getState().show, [f.key]: !on } })}
              >
                <Icon name={on ? 'eye' : 'eye-off'} />
                <span>{f.label}</span>
              </button>
            );
          })}
        </div>
      </div>
    </>
  );
}
