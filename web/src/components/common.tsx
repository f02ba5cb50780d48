import type { ComponentChildren, JSX } from 'preact';
import { navigate } from '../store';

/** A Material Design icon; decorative unless given a label. */
export function Icon({ name, color, label, size = '24px', cls = '' }: { name: string; color?: string; label?: string; size?: string; cls?: string }) {
  return (
    <span class={`icon ${cls}`} style={color ? { color } : undefined} aria-hidden={label ? undefined : 'true'} aria-label={label} role={label ? 'img' : undefined}>
      <i class={`mdi mdi-${size} mdi-${name}`} />
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
