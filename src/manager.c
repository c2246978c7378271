/* placeholder: manager */
