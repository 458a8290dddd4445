/*
 * kv.c -- name=value lists.
 */
#include "lib/kv.h"

#include <string.h>

bool kv_set(struct kvlist *l, const char *name, const char *value)
{
	char *v = pgp_strdup(value), *n;
	struct kv *grown;

	if (!v)
		return false;
	for (int i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].name, name) == 0) {
			pgp_free(l->items[i].value);
			l->items[i].value = v;
			return true;
		}
	}
	n = pgp_strdup(name);
	grown = n ? pgp_realloc(l->items, sizeof(*grown) * (size_t)(l->n + 1))
		  : NULL;
	if (!grown) {
		pgp_free(n);
		pgp_free(v);
		return false;
	}
	l->items = grown;
	l->items[l->n].name = n;
	l->items[l->n].value = v;
	l->n++;
	return true;
}

const char *kv_get(const struct kvlist *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return l->items[i].value;
	return NULL;
}

void kv_del(struct kvlist *l, const char *name)
{
	for (int i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].name, name) != 0)
			continue;
		pgp_free(l->items[i].name);
		pgp_free(l->items[i].value);
		l->items[i] = l->items[--l->n];
		return;
	}
}

void kv_free(struct kvlist *l)
{
	for (int i = 0; i < l->n; i++) {
		pgp_free(l->items[i].name);
		pgp_free(l->items[i].value);
	}
	pgp_free(l->items);
	l->items = NULL;
	l->n = 0;
}
