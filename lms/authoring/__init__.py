"""Course authoring by trainers and the review workflow of consortium admins."""
