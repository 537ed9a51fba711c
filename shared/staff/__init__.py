"""What the AR team does from the command line and over the staff API alike: the worklist, dunning runs and
policy versions, in one place so `arcollect …` and `/staff/…` cannot drift apart."""
