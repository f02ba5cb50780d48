import { useEffect, useState } from 'preact/hooks';
import { connectionState, onConnectionState } from '../api';

/** Says when the connection to the server is lost and, briefly, when it is back. */
export function ConnectionBanner() {
  const [state, setState] = useState(connectionState());
  useEffect(() => onConnectionState(setState), []);
  return (
    <div role="status" aria-live="polite">
      {state === 'lost' && (
        <div id="connection-lost" class="notification is-warning connection-banner">
          Connection to the server lost, reconnecting…
        </div>
      )}
      {state === 'restored' && (
        <div id="connection-restored" class="notification is-success connection-banner">
          Connected again
        </div>
      )}
    </div>
  );
}
