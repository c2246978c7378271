/* placeholder: duration */
