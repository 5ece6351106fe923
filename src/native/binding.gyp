{
  "targets": [
    {
      "target_name": "qcow2_seek",
      "sources": ["seek.c"]
    }
  ]
}
