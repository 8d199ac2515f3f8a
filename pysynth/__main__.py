from pysynth.cli import main

main()
