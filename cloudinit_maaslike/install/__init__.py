"""The install engine: stages, commands, environment, target chroot, reporting."""
