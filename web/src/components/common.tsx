import type { ComponentChildren, JSX } from 'preact';
import { ICONS, type IconName } from '../icons';
import { navigate } from '../store';

/**
 * An icon as inline SVG in Bulma's `.icon` box; decorative unless given a label. Its colour is
 * the text colour (`tone` picks one of the classes in main.scss), so no style attribute is needed.
 */
export function Icon({ name, tone, label, size = 24, cls = '' }: { name: IconName; tone?: string; label?: string; size?: number; cls?: string }) {
  return (
    <span
      class={`icon ${tone ? `is-tone-${tone}` : ''} ${cls}`}
      aria-hidden={label ? undefined : 'true'}
      aria-label={label}
      role={label ? 'img' : undefined}
    >
      <svg viewBox="0 0 24 24" width={size} height={size} focusable="false" aria-hidden="true">
        <path d={ICONS[name]} fill="currentColor" />
      </svg>
    </span>
  );
}

/** An in-app link: a real href (open in new tab, keyboard) that navigates without a reload. */
export function Link({ to, children, ...rest }: { to: string; children: ComponentChildren } & JSX.HTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** A notice the user can close (Bulma's notification with its delete button). */
export function Notice({ kind, onClose, closeLabel = 'Dismiss', children, id }: { kind: string; onClose?: () => void; closeLabel?: string; children: ComponentChildren; id?: string }) {
  return (
    <div id={id} class={`notification ${kind}`}>
      {onClose && <button type="button" class="delete" aria-label={closeLabel} onClick={onClose} />}
      {children}
    </div>
  );
}

/** One part of a view, reached by its own path. */
export interface TabLink {
  path: string;
  label: string;
  icon: IconName;
  current: boolean;
}

/** The parts of a view (the client's transactions, history, alerts, owners) as links with Bulma's tabs. */
export function ViewTabs({ label, tabs }: { label: string; tabs: TabLink[] }) {
  return (
    <nav class="tabs is-small view-tabs" aria-label={label}>
      <ul>
        {tabs.map((t) => (
          <li key={t.path} class={t.current ? 'is-active' : ''}>
            <Link to={t.path} aria-current={t.current ? 'page' : undefined} id={`tab-${t.label.toLowerCase()}`}>
              <Icon name={t.icon} size={16} />
              <span>{t.label}</span>
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
