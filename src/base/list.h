/* An intrusive doubly linked list (after libuv's src/queue.h and the Linux kernel's list.h): the
 * node lives inside the element, so linking allocates nothing and an element can leave the list
 * in O(1) knowing only itself. A list is a `list_node` head whose prev/next close the circle; an
 * element is on at most one list per node it embeds.
 *
 * Not thread-safe: the owner of the list serialises access (usually with its lock). */
#ifndef BASE_LIST_H
#define BASE_LIST_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct list_node {
    struct list_node *prev, *next;
} list_node;

/* The element of type `type` that holds `node` as its member `member`. */
#define list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Makes `head` an empty list (also usable on an element's node: "not on a list"). */
static inline void list_init(list_node *head)
{
    head->prev = head->next = head;
}

static inline bool list_empty(const list_node *head)
{
    return head->next == head;
}

/* True when `n` (initialised with list_init or removed with list_remove) is on some list. */
static inline bool list_linked(const list_node *n)
{
    return n->next != n;
}

static inline void list_insert_between_(list_node *n, list_node *prev, list_node *next)
{
    n->prev = prev;
    n->next = next;
    prev->next = n;
    next->prev = n;
}

/* Appends `n` (not on a list) at the end of `head`. */
static inline void list_push_back(list_node *head, list_node *n)
{
    list_insert_between_(n, head->prev, head);
}

/* Inserts `n` (not on a list) at the front of `head`. */
static inline void list_push_front(list_node *head, list_node *n)
{
    list_insert_between_(n, head, head->next);
}

/* Takes `n` off its list and leaves it initialised (list_linked is false afterwards). */
static inline void list_remove(list_node *n)
{
    assert(n->prev->next == n && n->next->prev == n);
    n->prev->next = n->next;
    n->next->prev = n->prev;
    list_init(n);
}

/* The first / last node, or NULL when the list is empty. */
static inline list_node *list_first(const list_node *head)
{
    return list_empty(head) ? NULL : head->next;
}

static inline list_node *list_last(const list_node *head)
{
    return list_empty(head) ? NULL : head->prev;
}

/* Removes and returns the first node, or NULL when the list is empty. */
static inline list_node *list_pop_front(list_node *head)
{
    list_node *n = list_first(head);
    if (n) list_remove(n);
    return n;
}

/* Moves every node of `from` to the end of `to`, in order; `from` is empty afterwards. */
static inline void list_splice_back(list_node *to, list_node *from)
{
    if (list_empty(from)) return;
    list_node *first = from->next, *last = from->prev;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    list_init(from);
}

/* Iterates `pos` (a list_node *) over `head`; the body must not remove `pos` (use the _safe form).
 */
#define list_for_each(pos, head) for (list_node *pos = (head)->next; pos != (head); pos = pos->next)

/* Iterates allowing the body to remove (and free) `pos`. */
#define list_for_each_safe(pos, head)                                                              \
    for (list_node *pos = (head)->next, *pos##_next_ = pos->next; pos != (head);                   \
         pos = pos##_next_, pos##_next_ = pos->next)

#endif
