/* placeholder: log */
