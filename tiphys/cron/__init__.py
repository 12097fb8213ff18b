"""CronWorkflows: schedules as Argo's parser (robfig/cron) reads them, the scheduler that
submits runs, and the REST routes."""
