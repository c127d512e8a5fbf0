
#compdef seedcore

_seedcore_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SEEDCORE_COMPLETE=complete_zsh seedcore)
}

compdef _seedcore_completion seedcore

