"""The seeder daemon: seeds every published version it is told about (see `seeder.daemon`)."""
