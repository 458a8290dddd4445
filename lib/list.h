/*
 * list.h -- intrusive circular doubly-linked list.  An object joins a list
 * through a `struct list` member; list_entry() gets the object back.
 */
#ifndef PGPERF_LIST_H
#define PGPERF_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *next, *prev;
};

#define LIST_INIT(name)          \
	{                        \
		&(name), &(name) \
	}
#define list_entry(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head)                               \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)
#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

static inline void list_init(struct list *l)
{
	l->next = l->prev = l;
}

static inline bool list_empty(const struct list *l)
{
	return l->next == l;
}

static inline void list_append(struct list *head, struct list *node)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static inline void list_del(struct list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	list_init(node);
}

static inline struct list *list_first(const struct list *head)
{
	return list_empty(head) ? NULL : head->next;
}

static inline size_t list_count(const struct list *head)
{
	size_t n = 0;
	const struct list *p;

	for (p = head->next; p != head; p = p->next)
		n++;
	return n;
}

#endif
