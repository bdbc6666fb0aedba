/*
 * ctl: the commands of lanyardctl (SPEC §1), callable without a process
 * boundary so that the thin main only parses the global options.
 * Each returns the exit status: 0 success, 1 failed operation or invalid
 * config, 2 bad usage. Errors go to stderr, one line each.
 */
#ifndef LY_CTL_H
#define LY_CTL_H

int ly_ctl_run(const char *config_path, int argc, char **argv);

#endif
