/* emit.h - writes the text of the generated .pbrpc.h and .pbrpc.c files. */
#ifndef PBRPC_GEN_EMIT_H
#define PBRPC_GEN_EMIT_H

#include "model.h"

/* The contents of base.pbrpc.h / base.pbrpc.c. The caller frees them. */
char *emit_header(const gen_file *f);
char *emit_source(const gen_file *f);

#endif /* PBRPC_GEN_EMIT_H */
