/* placeholder: addr */
