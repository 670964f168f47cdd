/* Action subcommands (everything that is not a report section). Each takes
 * the arguments after the subcommand name and returns the exit status. */
#ifndef PROBE_COMMANDS_H
#define PROBE_COMMANDS_H

int cmd_exit(int argc, char **argv);
int cmd_sleep(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_write_file(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_signals(int argc, char **argv);
int cmd_fork(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_sd_notify(int argc, char **argv);

#endif
