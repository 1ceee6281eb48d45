// h5io_errors.h - whether HDF5 prints its own error stack (part of the h5io
// module, src/io/h5io_util.c). Off by default in every program: a failed
// HDF5 call is reported by our one-line message naming the file and what
// failed; --verbose (cli.h) turns the stack back on for bug reports.
#pragma once

// Call once, after cli_begin and before any other HDF5 call:
// h5io_errors_show(cd_verbose()).
void h5io_errors_show(int show);
