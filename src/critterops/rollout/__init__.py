"""Progressive rollouts: canary and blue/green steps, and the judges that decide whether to go on."""
