"""The task forces app's API resources: task forces, participations, roles, role
assignments, objectives, tasks and updates."""
