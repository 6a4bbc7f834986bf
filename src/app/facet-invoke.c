/* facet-invoke.c — a worker's report handed to the main context
 *
 * Copyright 2025 The Facet authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "facet-invoke"

#include "config.h"

#include "facet-invoke.h"

typedef struct
{
  GWeakRef        owner;
  FacetInvokeFunc func;
  gpointer        data;
  GDestroyNotify  data_free;
} Call;

static void
call_free (gpointer p)
{
  Call *c = p;

  g_weak_ref_clear (&c->owner);
  if (c->data_free != NULL)
    c->data_free (c->data);
  g_free (c);
}

static gboolean
call_run (gpointer p)
{
  Call *c = p;
  g_autoptr (GObject) owner = g_weak_ref_get (&c->owner);

  if (owner != NULL)
    c->func (owner, c->data);
  return G_SOURCE_REMOVE;
}

void
facet_invoke_weak (GMainContext    *context,
                   GObject         *owner,
                   FacetInvokeFunc  func,
                   gpointer         data,
                   GDestroyNotify   data_free)
{
  Call *c;

  g_return_if_fail (func != NULL);

  if (owner == NULL)
    {
      if (data_free != NULL)
        data_free (data);
      return;
    }
  c = g_new0 (Call, 1);
  g_weak_ref_init (&c->owner, owner);
  c->func = func;
  c->data = data;
  c->data_free = data_free;
  g_main_context_invoke_full (context, G_PRIORITY_DEFAULT, call_run, c, call_free);
}
