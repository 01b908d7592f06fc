/** The tools sshgate serves, sorted: what tools/list must name, no more and no fewer. */
export const TOOL_NAMES = [
  'ssh_cancel',
  'ssh_describe_host',
  'ssh_edit_file',
  'ssh_get_task_output',
  'ssh_get_task_status',
  'ssh_list_dir',
  'ssh_list_hosts',
  'ssh_list_tasks',
  'ssh_ping',
  'ssh_plan',
  'ssh_read_file',
  'ssh_reload_config',
  'ssh_run',
  'ssh_run_async',
  'ssh_run_on_tag',
  'ssh_write_file',
] as const;
