/* cli.h — facet-cli commands and shared helpers
 *
 * Threads: facet-cli runs its commands in the main thread; these helpers
 * print to stdout/stderr and are not meant for other threads.
 * Ownership: arguments are borrowed unless a comment says otherwise;
 * facet_cli_fail() takes @error (transfer full) and frees it.
 */
#pragma once

#include <glib.h>

#include "core/facet-core.h"
#include "engine/facet-engine.h"
#include "face/facet-face.h"
#include "store/facet-store.h"

G_BEGIN_DECLS

typedef int (*FacetCliFunc) (int    argc,
                             char **argv);

typedef struct
{
  const char  *name;
  FacetCliFunc func;
  const char  *summary;
} FacetCliCommand;

/* Each command lives in its own cli-*.c file. */
int  facet_cli_model   (int argc, char **argv);
int  facet_cli_predict (int argc, char **argv);
int  facet_cli_bench   (int argc, char **argv);
int  facet_cli_finetune (int argc, char **argv);
int  facet_cli_pretrain (int argc, char **argv);
int  facet_cli_models  (int argc, char **argv);
int  facet_cli_probe   (int argc, char **argv);
int  facet_cli_frame   (int argc, char **argv);
int  facet_cli_faces   (int argc, char **argv);
int  facet_cli_synth   (int argc, char **argv);
/* The project store (cli-project.c, cli-analyze.c). */
int  facet_cli_init    (int argc, char **argv);
int  facet_cli_add     (int argc, char **argv);
int  facet_cli_analyze (int argc, char **argv);
int  facet_cli_export  (int argc, char **argv);
int  facet_cli_labels  (int argc, char **argv);
int  facet_cli_status  (int argc, char **argv);
int  facet_cli_merge   (int argc, char **argv);
/* Inter-coder reliability (cli-agreement.c). */
int  facet_cli_agreement (int argc, char **argv);
int  facet_cli_sample  (int argc, char **argv);

/* Prints "facet-cli: <message>" on stderr (one line) and returns 1;
 * facet_cli_fail() frees @error (transfer full). */
int  facet_cli_fail    (GError     *error);
int  facet_cli_failf   (const char *format,
                        ...) G_GNUC_PRINTF (1, 2);
gboolean facet_cli_parse (GOptionContext *context,
                          int            *argc,
                          char         ***argv);
/* Append a JSON number, array of numbers or string (escaped) to @out. */
void facet_cli_json_float  (GString     *out,
                            double       value);
void facet_cli_json_floats (GString     *out,
                            const float *values,
                            gsize        n);
void facet_cli_json_string (GString     *out,
                            const char  *text);
/* (transfer full): a new model (facet_model_unref()). */
FacetModel *facet_cli_load_model (const char *path,
                                  const char *aus,
                                  const char *dataset,
                                  int         heads,
                                  const char *readout,
                                  const char *crop,
                                  gboolean    create_head,
                                  GError    **error);

/* A model argument: the id of a model in the project, or a file. Returns
 * the file's path (transfer full, g_free()) and sets *model_id (0 when the
 * file is not in the project). */
char *facet_cli_resolve_model (FacetStore *store,
                               const char *arg,
                               gint64     *model_id,
                               GError    **error);

G_END_DECLS
