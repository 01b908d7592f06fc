/** The twelve tools sshgate serves, sorted: what tools/list must name, no more and no fewer. */
export const TOOL_NAMES = [
  'ssh_cancel',
  'ssh_describe_host',
  'ssh_get_task_output',
  'ssh_get_task_status',
  'ssh_list_hosts',
  'ssh_list_tasks',
  'ssh_ping',
  'ssh_plan',
  'ssh_reload_config',
  'ssh_run',
  'ssh_run_async',
  'ssh_run_on_tag',
] as const;
