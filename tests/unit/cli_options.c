/*
 * apps/ustack/options.c, compiled once into the unit tier (the CLI is not
 * part of the library): the tests of its options (test_cli_*.c) use it
 * through options.h, so that more than one of them can.
 */
#include "../../apps/ustack/options.c"
