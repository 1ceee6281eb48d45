# demo: see README
