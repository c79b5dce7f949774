"""Production deployment on one machine: service units, backups, the deployment doctor."""
